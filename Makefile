.PHONY: bench

# Benchmarks vs Kinto 26.5.0 (see benchmarks/README.md). Extra options: make bench BENCH_ARGS="--quick"
bench:
	@test -f "$${KINTO_BENCH_VENV:-/work/kinto-bench-venv}/.kinto-bench-ready" || bash benchmarks/setup_kinto.sh
	$${BENCH_PYTHON:-python3} benchmarks/run.py $(BENCH_ARGS)
