"""The history of a W&B offline run, read from its ``run-<id>.wandb`` file.

wandb 0.31 has no public reader for these files (the Python ``DataStore`` left with wandb-core), so
this reads their framing, LevelDB's log format (7-byte header; 32 KiB blocks; records of a CRC-32,
a length and a type, cut into FIRST/MIDDLE/LAST pieces across blocks), and parses each record with
wandb's own protobuf ``Record``. A torn last record (a run still writing) ends the read.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

HEADER = struct.Struct("<4sHB")  # ident, magic, version
RECORD = struct.Struct("<IHB")  # crc32, length, type
IDENT, MAGIC = b":W&B", 0xBEE1
BLOCK = 32768
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path) -> Iterator[bytes]:
    """The payload of each whole record in the file, in order."""
    data = Path(path).read_bytes()
    if len(data) < HEADER.size:
        return  # just created: its header is not written yet
    if HEADER.unpack_from(data)[:2] != (IDENT, MAGIC):
        raise ValueError(f"{path}: not a W&B run file")
    offset, pieces = HEADER.size, []
    while offset + RECORD.size <= len(data):
        left_in_block = BLOCK - offset % BLOCK
        if left_in_block < RECORD.size:  # a block's tail too short for a header is padding
            offset += left_in_block
            continue
        checksum, length, kind = RECORD.unpack_from(data, offset)
        payload = data[offset + RECORD.size: offset + RECORD.size + length]
        if kind == 0 or len(payload) < length:
            return  # zero padding, or a record still being written
        if zlib.crc32(payload, zlib.crc32(bytes((kind,)))) & 0xFFFFFFFF != checksum:
            return  # torn
        offset += RECORD.size + length
        if kind == FULL:
            yield payload
        elif kind == FIRST:
            pieces = [payload]
        elif kind == MIDDLE and pieces:
            pieces.append(payload)
        elif kind == LAST and pieces:
            yield b"".join(pieces + [payload])
            pieces = []


def history_rows(path: Path) -> Iterator[dict[str, object]]:
    """Each ``wandb.log`` row of the run: metric name -> value."""
    from wandb.proto.wandb_internal_pb2 import Record

    for payload in records(path):
        record = Record()
        record.ParseFromString(payload)
        if record.WhichOneof("record_type") != "history":
            continue
        row = {}
        for item in record.history.item:
            key = item.key or "/".join(item.nested_key)
            try:
                row[key] = json.loads(item.value_json)
            except (ValueError, RecursionError):  # not JSON, or nested too deep to parse
                continue
        yield row


def read_history(path: Path) -> dict[str, list[tuple[int, float]]]:
    """Every numeric series of the run as ``[(step, value)]``: the step is the row's ``step``
    (or ``<group>/step``) as TorchRL's WandbLogger logs it, else W&B's own ``_step``."""
    series: dict[str, list[tuple[int, float]]] = {}
    for row in history_rows(path):
        for key, value in row.items():
            if key.startswith("_") or key == "step" or key.endswith("/step"):
                continue
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            group = key.rpartition("/")[0]
            step = row.get(f"{group}/step" if group else "step", row.get("_step"))
            if isinstance(step, (int, float)):
                series.setdefault(key, []).append((int(step), float(value)))
    return series
