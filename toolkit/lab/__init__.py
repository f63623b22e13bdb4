"""The lab: a whole AWS-and-bare-metal world on one Linux machine (``toolkit lab up|status|down``).

Modules, in the order ``lab up`` uses them:

- ``names``     short names from the lab's hash, the lab's /24 in 198.18.0.0/15
- ``layout``    which hosts exist and which Ansible groups each bare-metal host is in
- ``record``    ``lab.json``: what the lab is made of, written before it is made
- ``image``     the debootstrap image, built once and cached by the hash of its recipe
- ``keys``      SSH keys, the lab CA and the service certificate
- ``artifacts`` the lab directory: secrets, known_hosts, inventory, spec, pgpass
- ``network``   bridge, namespaces, veth pairs
- ``cgroups``   a cgroup of its own per host (nspawn without a host systemd)
- ``hosts``     overlays, host identity, systemd-nspawn boot/stop, nsenter
- ``aws_side``  moto, the source PostgreSQL, the app, seeding
- ``status``    health probes and the status document
- ``snapshots`` the bare-metal hosts' disks saved and restored (``booted``: blank hosts)
- ``teardown``  removing everything a lab made, by record and by name
- ``api``       up / status / down / snapshot / restore
"""
