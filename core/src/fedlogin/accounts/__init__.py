"""Platform users and their accounts at identity providers.

=====================  ===================================================================
:mod:`.mapping`        P18: claims → profile fields (the provider's attribute mapping)
:mod:`.email_trust`    P15: whether the platform trusts the email a provider sent
:mod:`.users`          finding users, creating them with a unique username
:mod:`.identities`     federated identities keyed by (provider, issuer, subject)
:mod:`.provisioning`   P13: auto provision or match only, from a sign-in to a user
=====================  ===================================================================

Passwords, verification emails and linking from Account → Security build on these.
"""
