"""The pure decisions: events, policy, the model, the planner, notices and their wording. No I/O."""
