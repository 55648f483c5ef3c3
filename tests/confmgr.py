"""How configuration managers change files, for the stub and the real-switch tests alike (issue 21)."""

import os
import shutil


def configmap_publish(volume, version, files):
    """Publish ``files`` ({name: text}) into ``volume`` as Kubernetes' atomic writer does: a new
    timestamped directory, a ``..data_tmp`` link to it renamed over ``..data``, each name a link
    through ``..data`` (a plain file of that name replaced by the link), the old directory removed.
    Returns the new directory."""
    directory = os.path.join(volume, "..2026_12_07_%02d" % version)
    os.mkdir(directory)
    for name, text in files.items():
        with open(os.path.join(directory, name), "w") as handle:
            handle.write(text)
    data = os.path.join(volume, "..data")
    old = os.path.realpath(data) if os.path.lexists(data) else None
    os.symlink(os.path.basename(directory), data + "_tmp")
    os.rename(data + "_tmp", data)
    for name in files:
        link = os.path.join(volume, name)
        if not os.path.islink(link):
            os.symlink(os.path.join("..data", name), link + ".link")
            os.rename(link + ".link", link)
    if old is not None:
        shutil.rmtree(old)
    return directory


def copy_over(path, data, pieces, between):
    """``cp`` over ``path``, slowly: the same file truncated, then ``pieces`` (offsets into ``data``,
    bytes) written one after another, ``between()`` called after each write and after the last."""
    with open(path, "r+b") as handle:
        handle.truncate(0)
        start = 0
        for end in list(pieces) + [len(data)]:
            handle.write(data[start:end])
            handle.flush()
            start = end
            between()
