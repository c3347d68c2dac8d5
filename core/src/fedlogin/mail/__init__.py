"""Email the platform sends: verification codes, and notices of linked and unlinked accounts.

=====================  ===================================================================
:mod:`.message`        the message value object and how an address is shown masked
:mod:`.texts`          the messages' words (verification, identity linked, unlinked)
:mod:`.outbox`         every message is first a row of the ``mail_outbox`` table
:mod:`.smtp`           sending one message through the configured SMTP server
:mod:`.delivery`       after a transaction: send what is queued, or log it in development
=====================  ===================================================================

Messages are written to the outbox in the same transaction as the change they tell about,
so a mail is never sent for something that did not happen, and never lost for something
that did. Any process may send any queued message (X4); a message is claimed before it is
sent, so two processes never send it twice. Without ``FEDLOGIN_SMTP_HOST`` nothing is sent:
admins read the outbox through ``GET /api/v1/outbox``, and in development (a loopback
``FEDLOGIN_BASE_URL``) the log shows each message, links with tokens cut out.
"""
