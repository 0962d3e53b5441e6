"""Ansible callback plugins that `run` adds to every run (this folder goes on ANSIBLE_CALLBACK_PLUGINS)."""
