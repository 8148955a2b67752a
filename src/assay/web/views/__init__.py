"""What each API endpoint returns and its page shows, computed once per resource, with the
access rules applied as the user's viewer decides them (one module per resource, named as
its routes in ``api/`` and its pages in ``pages/``)."""
