"""The interface between the application server and media nodes.

Everything a node needs from the application side (camera assignments, the index of what it
recorded, retention queries) and everything it reports (finished segments, removals, camera
status) crosses this boundary as the plain messages in :mod:`vigil.link.messages`. In the
single-box mode :class:`vigil.link.local.LocalLink` calls the application side in-process;
a network implementation carries the same messages between machines.
"""
