"""HTTP only (Quart-Trio on hypercorn): webhook, JSON API, live push, dashboard pages.
Holds no engine state; talks to the engine through one handle object."""
