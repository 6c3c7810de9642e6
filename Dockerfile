# breachdash app image: docs/deployment.md. Written for real deployments; not built in CI.
#   docker build -t breachdash .
#   docker run -p 8501:8501 -e DATABASE_URL=... breachdash
# The default command migrates the database, loads the demo when it is EMPTY (fictional data and
# demo accounts with published passwords: for trying breachdash out), then serves. compose.yaml
# runs `migrate` once instead and starts the servers without it.
FROM python:3.11-slim

# Chromium: kaleido draws the charts of PDF exports with it; DejaVu gives PDFs full Unicode;
# the emoji font draws page icons in exported charts.
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium fonts-dejavu-core fonts-noto-cjk fonts-noto-color-emoji \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # SQLite (single server only) lives on a volume, not in the image: data/ holds reference data.
    DATABASE_URL=sqlite:////var/lib/breachdash/breachdash.db

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
RUN useradd --system --create-home --home-dir /home/breachdash breachdash \
    && mkdir -p /var/lib/breachdash && chown breachdash /var/lib/breachdash
USER breachdash
VOLUME /var/lib/breachdash

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"

# .streamlit/config.toml binds 127.0.0.1; inside a container the server must listen on all interfaces.
CMD ["sh", "-c", "python -m breachdash setup && exec streamlit run app.py --server.address 0.0.0.0 --server.port 8501"]
