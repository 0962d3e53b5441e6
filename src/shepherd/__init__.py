"""Drive the shepherd.fleet Ansible collection from Python."""

__version__ = "0.1.0"
