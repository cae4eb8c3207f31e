"""Helpers for the live tests, split by concern; nothing here imports pytest or conftest.

  common    units, page size, repository root, loopback address, round_up, wait_until
  client    Client and Response (one HTTP/1.1 request per connection), sec, assert_problem
  server    ShmAdminServer: starts the real binary, reads its port and token, stops it
  peers     Peer: a python3 process that maps, writes, reads and locks objects on command
  sse       EventStream: GET /api/v1/events over a raw socket, parsed into events
  shm       /dev/shm names: the run prefix, reading and removing objects, directory snapshots
  raw_http  raw_request: exact bytes over a socket, the first response parsed

The benchmark reuses client and server from a plain script: put Tests/live on sys.path and
`from support.server import ShmAdminServer`.
"""
