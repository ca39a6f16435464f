# nginx serving the built Vue SPA at /app/ and proxying everything else to the gateway
# (deploy/nginx/nginx.conf). Build from the repository root:
#   docker build -f deploy/frontend.Dockerfile -t shop/nginx .

FROM node:22-bookworm-slim AS build
WORKDIR /src/frontend
# Dependencies first: this layer is reused until package.json or the lock file change.
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

FROM nginxinc/nginx-unprivileged:1.27-alpine AS runtime
# The unprivileged image runs as uid 101 and listens on 8080.
COPY deploy/nginx/nginx.conf /etc/nginx/nginx.conf
COPY --from=build /src/frontend/dist /usr/share/nginx/html/app
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD wget -qO- http://127.0.0.1:8080/nginx-health || exit 1
