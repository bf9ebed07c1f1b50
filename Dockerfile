# Yizhi's server, for docker-compose.yml (several servers on one PostgreSQL): models are mounted at
# /models (pull them first with `npx yizhi models pull`), API keys kept in /data.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json .npmrc tsconfig.json tsconfig.build.json ./
COPY src src
COPY ingest ingest
COPY prompts prompts
COPY web web
RUN npm ci --no-audit --no-fund && npm prune --omit=dev && npm cache clean --force
ENV YIZHI_HOST=0.0.0.0 YIZHI_DATA_DIR=/data YIZHI_MODELS_DIR=/models
EXPOSE 8080
CMD ["node", "dist/src/cli/main.js", "serve"]
