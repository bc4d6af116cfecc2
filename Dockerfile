# Image for every Ray pod of the trading cluster (head, core, signals, train) and the retrain submitter.
# Build and tag: make image IMAGE=<registry>/trading/trading-cluster TAG=<version>; push with docker push
# (docs/operations.md, "Build and push"). The Ray version comes from constraints.txt and must match
# rayVersion in infra/k8s/base/raycluster.yaml (tests/infra/test_image_layout.py checks both).

# Stage 1: the wheel, built from the same sources as `pip wheel .` in a checkout. It carries config/,
# data/ and the migrations under cluster/_shipped (setup.py).
FROM python:3.12-slim AS wheel
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --no-deps -w /dist .

# Stage 2: the runtime.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RAY_USAGE_STATS_ENABLED=0 \
    TRADING_STATE_DIR=/var/lib/trading/state \
    TRADING_SIGNAL__MODEL_DIR=/var/lib/trading/models

# KubeRay probes and `ray start` use wget/bash; libgomp is needed by xgboost; tini reaps children.
RUN apt-get update \
    && apt-get install -y --no-install-recommends bash wget libgomp1 tini \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 1000 ray \
    && mkdir -p /var/lib/trading \
    && chown ray:ray /var/lib/trading

# Dependencies first, pinned by constraints.txt, so a code change does not reinstall them.
COPY pyproject.toml constraints.txt /tmp/build/
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('/tmp/build/pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/build/requirements.txt \
    && pip install -c /tmp/build/constraints.txt -r /tmp/build/requirements.txt

COPY --from=wheel /dist/ /tmp/dist/
RUN pip install --no-deps /tmp/dist/trading_cluster-*.whl \
    && rm -rf /tmp/dist /tmp/build \
    && trading-cluster --help > /dev/null

USER ray
WORKDIR /home/ray
# 8265 dashboard/Jobs API, 8080 Ray metrics, 8180 control API, 10001 Ray client, 6379 GCS (pod-local)
EXPOSE 8265 8080 8180 10001 6379
# KubeRay replaces the command with `ray start ...`; run alone, the image is the CLI.
ENTRYPOINT ["tini", "--", "trading-cluster"]
CMD ["--help"]
