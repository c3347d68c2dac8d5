"""Signing in with an identity provider: the flow from the login button to a user.

=====================  ===================================================================
:mod:`.flow`           ``start`` (the authorization request) and ``finish`` (the callback,
                       from the code to a signed-in user); no web framework here
:mod:`.purposes`       what a finished flow does: sign in, link (Account → Security), or
                       wait for an email address to be proven
:mod:`.pending`        pending flows in the database: single use, expiring, browser-bound
:mod:`.events`         sign-in events (T4): every attempt, its outcome and refusing step
:mod:`.errors`         :class:`~fedlogin.signin.errors.SignInRefused` and the messages
                       people see, from the product document's troubleshooting list
=====================  ===================================================================
"""
