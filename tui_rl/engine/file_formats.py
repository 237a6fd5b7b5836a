"""The formats of the files tui-rl writes for use elsewhere (videos, exported policies). No torch:
the command line's parsers list them."""

VIDEO_FORMATS = ("mp4", "gif")
#: each export format and the suffix of its default file name
EXPORT_SUFFIXES = {"torchscript": ".pt", "onnx": ".onnx", "state-dict": ".state_dict.pt"}
EXPORT_FORMATS = tuple(EXPORT_SUFFIXES)
