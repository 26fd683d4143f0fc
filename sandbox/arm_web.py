"""Microsoft.Web/sites: the Function App's application settings (api-version 2024-04-01), read
by the console with ``--app ID``: POST ``{site}/config/appsettings/list``, answered with a
StringDictionary (``{id, name, type, properties: {NAME: value}}``), the output of the ``list``
function of ``Microsoft.Web/sites/config`` in the published type data (sandbox/azure_types/web).
A site the world does not hold answers ARM's 404. Nothing else of a site is modelled."""

from __future__ import annotations

from sandbox.arm_http import Ctx, not_found
from sandbox.arm_ids import key, name_of, resource_group_of
from sandbox.https import Response
from sandbox.hub import SITE_TYPE


def list_app_settings(ctx: Ctx) -> Response:
    site_id = ctx.groups["site"]
    with ctx.world.lock:
        site = ctx.world.hub.function_apps.get(key(site_id))
        if site is None:
            return not_found(SITE_TYPE, name_of(site_id), resource_group_of(site_id))
        return Response(
            200,
            {
                "id": f"{site.id}/config/appsettings",
                "name": "appsettings",
                "type": "Microsoft.Web/sites/config",
                "properties": dict(site.app_settings or {}),
            },
        )
