"""Moving from XML dialplan + mod_distributor + acl.conf: read, translate, render, compare. Never on the call path."""
