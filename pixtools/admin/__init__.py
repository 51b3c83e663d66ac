"""The ``flask pixtools …`` commands, one module per topic (registered in ``commands``)."""
