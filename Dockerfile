# One image for every Weir role: `weir coordinator`, `weir worker`, and the CLI (`weir run`, ...).
# deploy/docker-compose.yml and deploy/kubernetes/weir.yaml run it; integration-tests/src/deploy.test.ts
# starts the same commands as OS processes and checks this file against the workspaces.
#
#   docker build -t weir:0.1.0 .

FROM node:20-bookworm-slim AS build
WORKDIR /weir
COPY . .
# The root package's prepare script builds every workspace (tsc -b).
RUN npm ci --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /weir
# Every workspace's package.json, so that npm ci can check the lockfile against them.
COPY package.json package-lock.json ./
COPY packages/actors/package.json packages/actors/
COPY packages/sdk/package.json packages/sdk/
COPY packages/runtime/package.json packages/runtime/
COPY packages/coordinator/package.json packages/coordinator/
COPY packages/cli/package.json packages/cli/
COPY examples/wordcount/package.json examples/wordcount/
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /weir/packages/actors/dist packages/actors/dist
COPY --from=build /weir/packages/sdk/dist packages/sdk/dist
COPY --from=build /weir/packages/runtime/dist packages/runtime/dist
COPY --from=build /weir/packages/coordinator/dist packages/coordinator/dist
COPY --from=build /weir/packages/cli/dist packages/cli/dist
COPY --from=build /weir/examples/wordcount/src examples/wordcount/src
# Workers cache job bundles under packages/cli/.cache (JOB_CACHE_DIR); the image runs as `node`.
RUN mkdir -p packages/cli/.cache && chown node:node packages/cli/.cache
USER node
# A directory `node` may write to: an embedded `weir run` keeps its checkpoints under ./.weir.
WORKDIR /home/node
ENTRYPOINT ["node", "/weir/packages/cli/dist/main.js"]
CMD ["--help"]
