# Copyright: shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Role files as ansible-core sees them in a play, for unit tests that render a role's own expressions."""

from ansible.template import trust_as_template


def trusted(value):
    """The value with every string marked as a template the role's author wrote (as Ansible does for role files;
    DataLoader alone does not mark them so)."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {key: trusted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [trusted(item) for item in value]
    return value
