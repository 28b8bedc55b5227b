"""PixelFlow's client side: ``pixelflow.client`` (a typed client of the HTTP API) and the ``pixelflow`` command."""
