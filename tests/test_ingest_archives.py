"""Archive imports: a .zip/.tar.gz of an image tree or a table imports like the folder or file
it holds; unsafe archives (zip-slip, absolute paths, links, bombs, too many members, encrypted
members) are refused naming the member, with nothing imported and nothing left on disk."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

import assay
from assay.errors import DataFormatError
from assay.ingest import archives
from assay.project import Project
from assay.store import schema as t
from helpers import count, import_states
from test_ingest_images import current_labels, write_image


@pytest.fixture
def project(tmp_path: Path) -> Project:
    with assay.init(tmp_path / "project") as p:
        yield p


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


def _pets_zip(inbox: Path, tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    write_image(tree / "pets" / "cat" / "1.png", 1)
    write_image(tree / "pets" / "cat" / "2.png", 2)
    write_image(tree / "pets" / "dog" / "3.png", 3, mode="RGB")
    path = inbox / "pets.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("__MACOSX/._junk", b"resource fork")  # ignored, as macOS zips have
        for file in sorted(tree.rglob("*.png")):
            zf.write(file, file.relative_to(tree).as_posix())
    return path


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def _extracted(project: Project) -> list[Path]:
    folder = project.root / archives.IMPORTS_DIR
    return sorted(folder.iterdir()) if folder.exists() else []


def test_a_zip_of_class_folders_imports_and_keeps_its_images(
    project: Project, inbox: Path, tmp_path: Path
) -> None:
    result = project.import_path(_pets_zip(inbox, tmp_path))
    assert result.dataset == "pets" and result.n_new_items == 3
    assert current_labels(project, "pets") == {"cat/1.png": "cat", "cat/2.png": "cat",
                                               "dog/3.png": "dog"}  # fmt: skip
    # The items point at the extracted files, which stay in the project.
    [folder] = _extracted(project)
    rows, _ = project.dataset("pets").items(limit=10)
    for row in rows:
        assert Path(row["media_path"]).is_file()
        assert Path(row["media_path"]).is_relative_to(folder)
    # Importing it again adds nothing (items are matched by key and content).
    again = project.import_path(_pets_zip(inbox, tmp_path), dataset="pets")
    assert again.n_new_items == 0 and again.n_new_labels == 0


def test_a_tar_gz_of_a_csv_imports_and_its_folder_is_removed(project: Project, inbox: Path) -> None:
    data = b"id,x,band\na,1.5,low\nb,2.5,high\nc,3.0,high\n"
    path = inbox / "houses.tgz"
    with tarfile.open(path, "w:gz") as tf:
        info = tarfile.TarInfo("export/houses.csv")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    result = project.import_path(path, label_column="band", key_column="id")
    assert result.dataset == "houses" and result.n_rows == 3
    assert current_labels(project, "houses") == {"a": "low", "b": "high", "c": "high"}
    assert _extracted(project) == []  # the rows are in the store; no copy is kept


def test_a_zip_of_jsonl_takes_label_column_as_the_cli_says_it(
    project: Project, inbox: Path
) -> None:
    path = inbox / "reviews.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("reviews.jsonl", '{"text": "good", "s": "pos"}\n{"text": "bad", "s": "neg"}\n')
    result = project.import_path(path, label_column="s")
    assert result.n_rows == 2 and sorted(current_labels(project, "reviews").values()) == [
        "neg",
        "pos",
    ]


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _symlink_tar(path: Path) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        png = io.BytesIO()
        from PIL import Image

        Image.new("L", (4, 4)).save(png, "PNG")
        info = tarfile.TarInfo("cat/ok.png")
        info.size = len(png.getvalue())
        tf.addfile(info, io.BytesIO(png.getvalue()))
        link = tarfile.TarInfo("cat/link.png")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tf.addfile(link)
    return path


def _hardlink_tar(path: Path) -> Path:
    with tarfile.open(path, "w") as tf:
        link = tarfile.TarInfo("cat/hard.png")
        link.type = tarfile.LNKTYPE
        link.linkname = "../../outside.png"
        tf.addfile(link)
    return path


def _device_tar(path: Path) -> Path:
    with tarfile.open(path, "w") as tf:
        dev = tarfile.TarInfo("cat/null")
        dev.type = tarfile.CHRTYPE
        tf.addfile(dev)
    return path


def _zip_symlink(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        info = zipfile.ZipInfo("cat/link.png")
        info.external_attr = (0o120777 << 16) | 0x20  # S_IFLNK
        zf.writestr(info, "/etc/passwd")
    return path


def _encrypted_zip(path: Path) -> Path:
    """A zip whose member has the "encrypted" flag an encrypting zip tool sets (zipfile
    cannot write one, so the flag is set in the headers' bytes)."""
    _zip(path, {"cat/1.png": b"not really encrypted"})
    data = bytearray(path.read_bytes())
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature) + flag_at
        data[at] |= 0x1
    path.write_bytes(bytes(data))
    return path


ZIP_BOMB_BYTES = 50 * 2**20


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda p: _zip(p / "slip.zip", {"cat/ok.png": b"x", "../evil.png": b"x"}),
         "member '../evil.png' points outside"),
        (lambda p: _zip(p / "deep.zip", {"cat/../../evil.png": b"x"}),
         "member 'cat/../../evil.png' points outside"),
        (lambda p: _zip(p / "abs.zip", {"/tmp/assay-evil-abs.png": b"x"}),
         "member '/tmp/assay-evil-abs.png' has an absolute path"),
        (lambda p: _zip(p / "win.zip", {"C:\\evil.png": b"x"}), "has an absolute path"),
        (lambda p: _zip(p / "twice.zip", {"cat/1.png": b"x", "cat//1.png": b"y"}),
         "appears twice"),
        (lambda p: _zip(p / "bomb.zip", {"cat/zeros.png": bytes(ZIP_BOMB_BYTES)}),
         "member 'cat/zeros.png' expands"),
        (lambda p: _symlink_tar(p / "link.tar.gz"),
         "member 'cat/link.png' is a symbolic link (to '/etc/passwd')"),
        (lambda p: _hardlink_tar(p / "hard.tar"), "member 'cat/hard.png' is a hard link"),
        (lambda p: _device_tar(p / "dev.tar"), "member 'cat/null' is a device file"),
        (lambda p: _zip_symlink(p / "link.zip"), "member 'cat/link.png' is a symbolic link"),
        (lambda p: _encrypted_zip(p / "secret.zip"), "member 'cat/1.png' is encrypted"),
        (lambda p: (p / "broken.zip").write_bytes(b"PK\x03\x04 not a zip") and p / "broken.zip",
         "not a readable archive"),
    ],
    ids=["dotdot", "deep-dotdot", "absolute", "windows-drive", "duplicate", "zip-bomb",
         "tar-symlink", "tar-hardlink", "tar-device", "zip-symlink", "encrypted", "corrupt"],
)  # fmt: skip
def test_unsafe_archives_are_refused_naming_the_member(
    project: Project, inbox: Path, tmp_path: Path, build: object, message: str
) -> None:
    archive: Path = build(inbox)  # type: ignore[operator]
    before = _files(tmp_path)
    with pytest.raises(DataFormatError, match="nothing was imported") as info:
        project.import_path(archive)
    assert message in str(info.value)
    assert archive.name in str(info.value)
    # Nothing imported, nothing written anywhere: not beside the archive, not in the project
    # (its extraction folder was removed), not in /tmp.
    assert project.datasets() == [] and count(project, t.items) == 0
    assert _files(tmp_path) == before
    assert _extracted(project) == []
    assert not Path("/tmp/assay-evil-abs.png").exists() and not (tmp_path / "evil.png").exists()
    assert not (tmp_path / "outside.png").exists()


def test_a_zip_bomb_is_refused_before_a_byte_is_written(
    project: Project, inbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bomb = _zip(inbox / "bomb.zip", {"zeros.bin": bytes(ZIP_BOMB_BYTES)})
    assert bomb.stat().st_size < ZIP_BOMB_BYTES / 200  # it really is one
    written: list[int] = []
    real = archives._Writer.file_member

    def counting(self: archives._Writer, *args: object, **kwargs: object) -> None:
        written.append(1)
        real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(archives._Writer, "file_member", counting)
    with pytest.raises(DataFormatError, match="like a zip bomb"):
        project.import_path(bomb)
    assert written == []  # the declared sizes were checked first


def test_sizes_are_counted_as_written_not_as_declared(project: Project, inbox: Path) -> None:
    # A tar declares no compressed sizes: the total and the ratio are checked on what is
    # written, and the extraction stops there.
    path = inbox / "big.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        for i in range(3):
            info = tarfile.TarInfo(f"cat/{i}.png")
            info.size = 2 * 2**20
            tf.addfile(info, io.BytesIO(bytes(info.size)))
    folder = project.root / "x"
    with pytest.raises(DataFormatError, match=r"member 'cat/0.png' expands .* like a zip bomb"):
        archives.extract(path, folder)
    tight = archives.ArchiveLimits(max_total_bytes=3 * 2**20, max_ratio=10_000)
    with pytest.raises(DataFormatError, match=r"member 'cat/1.png' takes the archive past"):
        archives.extract(path, project.root / "y", tight)
    assert sum(p.stat().st_size for p in (project.root / "y").rglob("*") if p.is_file()) <= (
        3 * 2**20
    )


def test_too_many_members_are_refused(
    project: Project, inbox: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(archives, "DEFAULT_LIMITS", archives.ArchiveLimits(max_members=5))
    many = _zip(inbox / "many.zip", {f"cat/{i}.png": b"x" for i in range(6)})
    with pytest.raises(DataFormatError, match=r"member 'cat/5.png' is past the 5 members allowed"):
        project.import_path(many)
    tarred = inbox / "many.tar"
    with tarfile.open(tarred, "w") as tf:
        for i in range(6):
            tf.addfile(tarfile.TarInfo(f"cat/{i}.png"), io.BytesIO(b""))
    with pytest.raises(DataFormatError, match=r"member 'cat/5.png' is one more than the 5"):
        project.import_path(tarred)
    assert project.datasets() == [] and _extracted(project) == []


def test_a_failed_import_of_extracted_content_removes_the_folder(
    project: Project, inbox: Path
) -> None:
    bad = _zip(inbox / "bad.zip", {"cat/1.png": b"not an image"})
    with pytest.raises(DataFormatError, match=r"1\.png"):
        project.import_path(bad)
    two = _zip(inbox / "two.zip", {"a.csv": b"x\n1\n", "b.csv": b"x\n2\n"})
    with pytest.raises(DataFormatError, match="several data files"):
        project.import_path(two)
    empty = _zip(inbox / "empty.zip", {"__MACOSX/._x": b""})
    with pytest.raises(DataFormatError, match="empty"):
        project.import_path(empty)
    assert project.datasets() == [] and _extracted(project) == []
    assert "published" not in import_states(project)


def test_the_cli_imports_a_zip(
    project: Project, inbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from assay.cli import app

    monkeypatch.chdir(project.root)
    archive = _pets_zip(inbox, tmp_path)
    result = CliRunner().invoke(app, ["import", str(archive), "--dataset", "zipped"])
    assert result.exit_code == 0, result.output
    assert "Imported 3 rows into dataset 'zipped'" in result.output
    refused = CliRunner().invoke(
        app, ["import", str(_zip(inbox / "slip.zip", {"../evil.png": b"x"}))]
    )
    assert refused.exit_code != 0 and "'../evil.png' points outside" in refused.output
    assert os.path.exists(archive)
