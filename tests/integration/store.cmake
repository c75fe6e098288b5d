# Remote stores: the real agent and real BPF against the test stores in
# tests/peers/ (python3-grpcio for Parca's gRPC, http.server for Pyroscope's
# Connect endpoint), started by each test on 127.0.0.1 with a free port.
fornax_bpf_test(store_parca test_store_parca.py)
fornax_bpf_test(store_pyroscope test_store_pyroscope.py)
fornax_bpf_test(store_spool test_store_spool.py)
