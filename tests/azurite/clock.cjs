// Loaded with `node --require` before Azurite (tests/azurite/launcher.py): Azurite's wall clock,
// moved forward on request, as the Blob double's VirtualClock is. Azurite times leases with
// `new Date()` (a lease's expiry, a break period); POST /advance?seconds=N on the control port
// printed at start adds N seconds to every `new Date()` and `Date.now()` from then on. Nothing
// else in Azurite changes.
"use strict";
const http = require("http");

const RealDate = Date;
let offsetMs = 0;

function ShiftedDate(...args) {
  if (!new.target) {
    return new RealDate(RealDate.now() + offsetMs).toString();
  }
  return args.length === 0 ? new RealDate(RealDate.now() + offsetMs) : new RealDate(...args);
}
ShiftedDate.prototype = RealDate.prototype;
ShiftedDate.now = () => RealDate.now() + offsetMs;
ShiftedDate.parse = RealDate.parse;
ShiftedDate.UTC = RealDate.UTC;
globalThis.Date = ShiftedDate;

const control = http.createServer((request, response) => {
  const url = new URL(request.url, "http://127.0.0.1");
  const seconds = Number(url.searchParams.get("seconds"));
  if (request.method !== "POST" || url.pathname !== "/advance" || !(seconds >= 0)) {
    response.statusCode = 400;
    response.end();
    return;
  }
  offsetMs += seconds * 1000;
  response.end(String(offsetMs / 1000));
});
control.listen(0, "127.0.0.1", () => {
  process.stdout.write(`clock control listens on http://127.0.0.1:${control.address().port}\n`);
});
control.unref();
