"""litecnn_ser: the library behind the command-line scripts (data preparation lives in `data/`, the model in
`modeling_litecnn.py` and `configuration_litecnn.py`, self-contained for remote code).

Importing this package imports no torch: the torch-free ONNX runtime lives here too."""
