"""shm-admin side by side with the tools people would use instead (issues 5, 11, 17).

  __main__ / main   the driver: tools, C peers, server, comparisons in order, RESULTS.md, cleanup
  context           the sizes per mode and what every comparison gets (Bench)
  server            shm-admin through Tests/live/support's server manager and client
  peers             nginx in each configuration, bare_mhd in each thread-pool size, the C peers' build
  load              wrk, curl and wall-clock timing; taskset for the pinned client
  procs             every process started is tracked and stopped by its pid
  stats, report     medians with (min–max), formatting; the parts, targets, errors and RESULTS.md
  c1_listing … c8_rss   one module per comparison; callgrind: instructions per listing request
"""
