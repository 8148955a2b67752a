"""What an import takes besides its file: :class:`ImportSpec`, the one home of the import
options (``assay import`` and the web upload's ``import`` job)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from assay.ingest.detect import FORMATS
from assay.specs import Spec

__all__ = ["ImportSpec"]

_COLUMN = Field(None, min_length=1, max_length=200)


class ImportSpec(Spec):
    """How to read a file into a dataset (``Project.import_path``'s options)."""

    format: str | None = Field(
        None,
        description="images, idx, table, jsonl, archive, or boxes: coco, yolo, voc "
        "(default: detected).",
    )
    label_column: str | None = Field(
        None, min_length=1, max_length=200, description="Column or JSONL field with the label."
    )
    key_column: str | None = Field(
        None, min_length=1, max_length=200, description="Column or field with each item's key."
    )
    split_column: str | None = Field(
        None, min_length=1, max_length=200, description="Column or field with the split."
    )
    text_column: str | None = Field(
        None, min_length=1, max_length=200,
        description="Column or JSONL field holding text (JSONL default: text).",
    )  # fmt: skip
    split: str | None = Field(
        None, min_length=1, max_length=64, description="Split for every imported item."
    )
    add_classes: bool = Field(
        False, description="Allow labels that are not yet classes of an existing dataset."
    )
    check: bool = Field(
        False,
        description="Run the dataset's data checks (checks/<dataset>.toml) on the data as it "
        "would be, and publish only if every one passes.",
    )

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str | None) -> str | None:
        if value is not None and value not in FORMATS:
            raise ValueError(f"unknown format {value!r}; choose one of {', '.join(FORMATS)}")
        return value

    def options(self) -> dict[str, Any]:
        """The importer options that are set (``format`` aside, and any field a subclass
        adds, such as a job's upload), for ``import_path``."""
        given = self.model_dump(include=set(ImportSpec.model_fields) - {"format"})
        return {k: v for k, v in given.items() if v not in (None, False)}
