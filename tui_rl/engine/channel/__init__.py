"""The control channel between a trainer and its clients: framing and handshake (``framing``),
the message encoding (``wire``), the trainer-side socket server (``server``), the clients' handle
(``handle``) and launching a trainer process (``launch``). Torch-free until a payload is read.

May import: ``config``, the top-level modules and ``runs``.
"""
