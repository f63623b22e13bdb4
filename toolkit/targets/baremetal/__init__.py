"""The bare-metal realization: Ansible roles over SSH, driven through ansible-runner."""
