# Image for every Ray pod of the trading cluster (head, core, signals, train) and the retrain submitter.
# Build: docker build -t trading-cluster:0.1.0 .   (not built in CI here: no Docker engine available)
# Ray version must match rayVersion in infra/k8s/base/raycluster.yaml.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# KubeRay probes and `ray start` use wget/bash; libgomp is needed by xgboost.
RUN apt-get update \
    && apt-get install -y --no-install-recommends bash wget libgomp1 tini \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 1000 ray
WORKDIR /home/ray/app

# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml README.md* ./
# pyproject names README.md as the readme; keep the build working if it is absent.
RUN test -f README.md || echo "# trading-cluster" > README.md
RUN pip install "ray[default]==2.60.0" \
    && python -c "import tomllib; d = tomllib.load(open('pyproject.toml', 'rb')); print('\n'.join(d['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

COPY cluster ./cluster
COPY actors ./actors
COPY models ./models
COPY config ./config
COPY alembic ./alembic
RUN pip install --no-deps . && chown -R ray:ray /home/ray/app

USER ray
# 8265 dashboard/Jobs API, 8080 Ray metrics, 8180 control API, 10001 Ray client, 6379 GCS (pod-local)
EXPOSE 8265 8080 8180 10001 6379
ENTRYPOINT ["tini", "--"]
CMD ["python", "-m", "cluster.cli"]
