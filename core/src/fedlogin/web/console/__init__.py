"""The admin console: server-rendered pages under ``/admin`` (issue 6), one module per page group.

==================  ===========================================================================
``signin``          ``/admin/login``, ``/admin/logout`` (the console's own admin sessions;
                    ``auth`` checks them and CSRF, ``throttle`` limits failed sign-ins)
``providers``       Identity Providers: list, Add Identity Provider (preset picker and form),
                    edit, enable/disable, delete (``provider_form`` renders the form,
                    ``connection`` runs Test Connection on the form's values)
``events``          a provider's sign-in events with the claims beside the mapping (T4)
``users``           Users: find one, see their connected accounts, unlock their sign-in
``settings``        Settings → Accounts → Authentication (S1)
``brands``          Brands (S2) with a preview of each brand's login buttons
``plugin_list``     the installed and broken plugins
==================  ===========================================================================

Pages use the store's services directly (the same validation and audit as the JSON API), never
the HTTP API. Every route requires an admin session (:func:`auth.admin_page`) and every form
carries the session's CSRF token; JavaScript (``static/console.js``) only improves pages that
work without it.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from fedlogin.web.console import (
    brands,
    events,
    plugin_list,
    providers,
    settings,
    signin,
    users,
)

MODULES = (signin, providers, events, users, settings, brands, plugin_list)


def routes() -> list[BaseRoute]:
    return [route for module in MODULES for route in module.ROUTES]
