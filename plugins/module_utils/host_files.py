# -*- coding: utf-8 -*-
# Copyright (c) apim.selfhosted contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gateway's files on its host: the env-file and the Entra app's certificate (atomic writes, no backup copies
on disk) and the directories of the env-file and the configuration backup (owners and modes only of directories the
gateway owns)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import hashlib
import os
import pwd
import shutil
import tempfile

from ansible_collections.apim.selfhosted.plugins.module_utils.gateway_plan import resolved_backup_problem

ENV_DIR_MODE = 0o700
BACKUP_MODE = 0o770
PARENT_MODE = 0o755


class HostFileError(Exception):
    """A path that the gateway may not use or change; the message names the path and the variable."""


def digest(data):
    return hashlib.sha256(data).hexdigest()


def read(path):
    """The file's bytes, or None when it does not exist."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except (IOError, OSError):
        if os.path.exists(path):
            raise
        return None


def write_atomic(path, data, mode=0o600, owner=0):
    """Write ``data`` to ``path`` owned by ``owner`` (gid 0) with ``mode``: a temporary file in the same directory,
    fsync, rename. A reader never sees half a file, and no copy of the previous content is left on disk."""
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, mode)
        os.fchown(fd, owner, 0)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def leftovers(env_file, others=()):
    """Files beside the env-file that hold old copies of it or of ``others`` (the certificate): temporary files of
    an interrupted write, and the ``<env-file>.<n>.<date>~`` backups that earlier releases of the role left (they
    hold old tokens)."""
    directory, base = os.path.split(env_file)
    found = glob.glob(os.path.join(directory, "%s.*~" % glob.escape(base)))
    for path in (env_file, *others):
        found += glob.glob(os.path.join(directory, ".%s.*.tmp" % glob.escape(os.path.basename(path))))
    return sorted(found)


def secret_file_state(path, data, owner, mode):
    """``(differs, previous bytes)`` of a secret file that should hold ``data`` (None: no file) with this owner and
    mode; the previous bytes stay in memory for a rollback."""
    old = read(path)
    if data is None:
        return old is not None, old
    if old is None or digest(old) != digest(data):
        return True, old
    st = os.lstat(path)
    return (st.st_uid, st.st_gid, st.st_mode & 0o7777) != (owner, 0, mode) or not os.path.isfile(path), old


def put_secret_file(path, data, owner, mode):
    """Write (``data``) or remove (None) a secret file."""
    if data is None:
        remove(path)
    else:
        write_atomic(path, data, mode, owner)


def remove(path):
    """Remove a file; True when something was removed."""
    try:
        os.unlink(path)
        return True
    except OSError:
        if os.path.lexists(path):
            raise
        return False


def ensure_dir(path, owner, group, mode, check_mode=False):
    """Create ``path`` (one level) or fix its owner and mode; returns True when it changed (or would)."""
    try:
        st = os.lstat(path)
    except OSError:
        st = None
    if st is not None and not os.path.isdir(path):
        raise HostFileError("%s exists and is not a directory" % path)
    if st is not None and (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (owner, group, mode):
        return False
    if check_mode:
        return True
    if st is None:
        os.mkdir(path, mode)
    os.chown(path, owner, group)
    os.chmod(path, mode)
    return True


def home_directories():
    """Every home directory of this host's accounts (a backup path may never be one)."""
    homes = set()
    for entry in pwd.getpwall():
        if entry.pw_dir and entry.pw_dir not in ("/", "/nonexistent"):
            homes.add(entry.pw_dir)
    return sorted(homes)


def check_backup_path(path, docker_root):
    """Refuse a backup path that could hurt the host, as it resolves here; the message names the variable."""
    problem = resolved_backup_problem(path, home_directories(), docker_root)
    if problem:
        raise HostFileError("gateway_backup_path %s %s" % (path, problem))


def ensure_backup_dir(path, owner, group, docker_root, check_mode=False):
    """Create the backup directory (and, when missing, its parent as root 0755); change owner and mode only of a
    directory that is empty or already the gateway's, never of anything else. Returns True on a change."""
    check_backup_path(path, docker_root)
    changed = False
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        if not os.path.isdir(os.path.dirname(parent)):
            raise HostFileError("gateway_backup_path %s: %s does not exist" % (path, os.path.dirname(parent)))
        changed = ensure_dir(parent, 0, 0, PARENT_MODE, check_mode) or changed
    if os.path.isdir(path):
        st = os.stat(path)
        if (st.st_uid, st.st_gid) != (owner, group) and os.listdir(path):
            raise HostFileError(
                "gateway_backup_path %s exists, is not empty and belongs to uid %d gid %d, not to the gateway "
                "(%d:%d); the role takes over only an empty directory or its own"
                % (path, st.st_uid, st.st_gid, owner, group)
            )
    return ensure_dir(path, owner, group, BACKUP_MODE, check_mode) or changed


def remove_backup_dir(path, owner, docker_root, check_mode=False):
    """Delete the backup directory when it is the gateway's (owned by its uid); True when it was (or would be)."""
    check_backup_path(path, docker_root)
    if not os.path.lexists(path):
        return False
    if os.path.islink(path) or not os.path.isdir(path):
        raise HostFileError("gateway_backup_path %s is not a directory; it is left alone" % path)
    if os.stat(path).st_uid != owner:
        raise HostFileError(
            "gateway_backup_path %s belongs to uid %d, not to the gateway's uid %d; it is left alone"
            % (path, os.stat(path).st_uid, owner)
        )
    if not check_mode:
        shutil.rmtree(path)
    return True
