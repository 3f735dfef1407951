# intentstream image: the compiled CLI on Node 20. One image, one process per
# container (ingest, scorer, trainer, generate), chosen by the command.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/postinstall.mjs ./scripts/
COPY src/vendor-shims/kafkajs-grouping-patch.mjs ./src/vendor-shims/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The image has no Vulkan driver: drop the optional `webgpu` (Dawn binaries for every platform, ~130 MB).
RUN npm run build && npm prune --omit=dev --omit=optional

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
# In a container the HTTP endpoints must listen beyond the container's loopback so Prometheus can
# scrape them; compose publishes them on the host's 127.0.0.1 only. The trainer's POST /train then
# needs http.token (INTENTSTREAM_HTTP__TOKEN), or it answers 403.
ENV INTENTSTREAM_HTTP__HOST=0.0.0.0
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY config ./config
# V8 flags: src/cli/node-flags.ts.
ENTRYPOINT ["node", "--max-semi-space-size=32", "bin/intentstream.js"]
CMD ["--help"]
