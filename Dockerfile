# powchain node image: `docker build -t powchain .`, then `docker run powchain node --help`.
# The first stage compiles the optional C nonce-search kernel (a faster miner) into a wheel;
# the image itself holds only Python 3.11 and the installed package. Data lives in /data.
FROM python:3.11-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev libssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels \
    && useradd --create-home --uid 1000 powchain \
    && mkdir /data && chown powchain /data
USER powchain
ENV POWCHAIN_DATADIR=/data
VOLUME /data
# P2P and REST API ports of a network file's defaults (`powchain network create`)
EXPOSE 48744 48745
ENTRYPOINT ["powchain"]
CMD ["--help"]
