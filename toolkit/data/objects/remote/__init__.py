"""The object copy's worker: shipped to each host of the ``objects`` group and run there over SSH.

Runs on the host's own ``python3`` with the standard library and boto3 only (Debian's
``python3-boto3``, which the lab image and the objectstore role's hosts have); nothing here
imports the toolkit, and imports between these modules are relative, so the folder runs as a
package under any name. The controller imports the pure parts (sharding, parts, manifest) too,
so the two sides agree by construction.
"""
