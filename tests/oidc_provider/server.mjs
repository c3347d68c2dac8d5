// A real OpenID provider (node `oidc-provider`, OpenID Certified) for fedlogin's end-to-end tests.
//
//   node server.mjs CONFIG.json [--port N] [--exit-on-stdin-close]
//
// Port: --port, else env OIDC_PROVIDER_PORT, else 0 (the kernel picks a free one; the issuer is
// built after listening, so there is no race for a "free" port). Binds 127.0.0.1 only.
// Prints one JSON line on stdout once listening: {"ready": true, "issuer": "http://127.0.0.1:N", ...}
//
// CONFIG.json:
//   {
//     "clients": [{"client_id", "client_secret", "redirect_uris",
//                  "token_endpoint_auth_method": "client_secret_post|client_secret_basic|none",
//                  "id_token_signed_response_alg": "RS256|PS256|ES256", ...other metadata}],
//     "conformIdTokenClaims": true,
//     "accounts": {"alice": {"email": "alice@example.com", "email_verified": true, ...}},
//     "claims": {"profile": [...], ...}          (optional; scope -> claims it releases)
//   }
//
// Test-only admin endpoints (loopback callers only):
//   GET  /__test/state        -> {issuer, generation, kids}
//   POST /__test/rotate-keys  -> new keys with new kids; body {"keep_previous": true} also keeps
//                                publishing the previous public keys. Returns the state.
//   POST /__test/accounts     -> body {"login": {claims}, ...} adds or replaces accounts' claims
//   POST /__test/clients      -> body {"clients": [...]} adds or replaces clients by client_id
//   POST /__test/config       -> body {"conformIdTokenClaims": bool}
//
// Every change of keys, clients or config builds a new Provider and swaps the request handler.
// All instances share one memory adapter and one set of cookie keys, so sessions, interactions,
// grants and authorization codes survive the swap (TOOLING.md, "Key rotation at runtime").

import { randomBytes, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import process from 'node:process';

import Provider from 'oidc-provider';
import { createMemoryAdapter } from 'oidc-provider/lib/adapters/memory_adapter.js';

const HOST = '127.0.0.1';
const LOOPBACK = new Set(['127.0.0.1', '::ffff:127.0.0.1', '::1']);
const MAX_ADMIN_BODY = 1024 * 1024;

// Standard claims per scope (OpenID Connect Core 1.0, section 5.4).
const STANDARD_CLAIMS = {
  openid: ['sub'],
  email: ['email', 'email_verified'],
  profile: [
    'name', 'family_name', 'given_name', 'middle_name', 'nickname', 'preferred_username',
    'profile', 'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at',
  ],
};

function parseArgs(argv) {
  const args = { configPath: undefined, port: undefined, exitOnStdinClose: false };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--port') {
      args.port = argv[i + 1];
      i += 1;
    } else if (arg.startsWith('--port=')) {
      args.port = arg.slice('--port='.length);
    } else if (arg === '--exit-on-stdin-close') {
      args.exitOnStdinClose = true;
    } else if (arg.startsWith('--')) {
      throw new Error(`unknown option ${arg}`);
    } else {
      args.configPath = arg;
    }
  }
  if (!args.configPath) {
    throw new Error('usage: node server.mjs CONFIG.json [--port N] [--exit-on-stdin-close]');
  }
  const port = Number(args.port ?? process.env.OIDC_PROVIDER_PORT ?? 0);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`invalid port ${args.port ?? process.env.OIDC_PROVIDER_PORT}`);
  }
  return { ...args, port };
}

function generateKeys() {
  const suffix = randomBytes(6).toString('hex');
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  // No `alg` on the RSA key: one RSA key serves both RS256 and PS256.
  return [
    { ...rsa, kid: `rsa-${suffix}`, use: 'sig' },
    { ...ec, kid: `ec-${suffix}`, alg: 'ES256', use: 'sig' },
  ];
}

function publicPart(jwk) {
  const { d, p, q, dp, dq, qi, ...rest } = jwk;
  return rest;
}

function normalizeClient(raw) {
  const client = { grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], ...raw };
  if (client.token_endpoint_auth_method === 'none') {
    // A public client on 127.0.0.1 redirect URIs is a native application (RFC 8252).
    client.application_type ??= 'native';
    delete client.client_secret;
  }
  return client;
}

function defaultClaims(login) {
  return {
    email: `${login}@example.com`,
    email_verified: true,
    name: login,
    preferred_username: login,
    locale: 'en',
  };
}

class TestProvider {
  constructor(issuer, config) {
    this.issuer = issuer;
    this.adapter = createMemoryAdapter();
    this.cookieKeys = [randomBytes(32).toString('hex')];
    this.clients = new Map((config.clients ?? []).map((c) => [c.client_id, normalizeClient(c)]));
    this.accounts = new Map(Object.entries(config.accounts ?? {}));
    this.conformIdTokenClaims = config.conformIdTokenClaims ?? true;
    this.claims = { ...STANDARD_CLAIMS, ...(config.claims ?? {}) };
    this.keys = generateKeys();
    this.retiredPublicKeys = [];
    this.generation = 0;
    this.build();
  }

  findAccount = async (ctx, id) => ({
    accountId: id,
    claims: async () => ({ ...(this.accounts.get(id) ?? defaultClaims(id)), sub: id }),
  });

  build() {
    const provider = new Provider(this.issuer, {
      adapter: this.adapter,
      clients: [...this.clients.values()],
      jwks: { keys: this.keys },
      cookies: { keys: this.cookieKeys },
      findAccount: this.findAccount,
      claims: this.claims,
      scopes: ['openid', 'profile', 'email', 'offline_access'],
      conformIdTokenClaims: this.conformIdTokenClaims,
      pkce: { required: () => true },
      features: {
        devInteractions: { enabled: true },
        revocation: { enabled: true },
      },
    });
    provider.on('server_error', (ctx, err) => {
      process.stderr.write(`oidc-provider server_error: ${err?.stack ?? err}\n`);
    });
    const handler = provider.callback();
    const retired = this.retiredPublicKeys;
    this.handler = (req, res) => {
      if (retired.length && req.method === 'GET' && new URL(req.url, this.issuer).pathname === '/jwks') {
        // oidc-provider only publishes its signing keys; keep_previous also publishes old ones.
        const keys = [...this.keys.map(publicPart), ...retired];
        res.writeHead(200, { 'content-type': 'application/jwk-set+json; charset=utf-8' });
        res.end(JSON.stringify({ keys }));
        return;
      }
      handler(req, res);
    };
    this.generation += 1;
  }

  state() {
    return {
      issuer: this.issuer,
      generation: this.generation,
      kids: this.keys.map((k) => k.kid),
      retired_kids: this.retiredPublicKeys.map((k) => k.kid),
    };
  }

  rotateKeys({ keep_previous: keepPrevious = false } = {}) {
    this.retiredPublicKeys = keepPrevious ? this.keys.map(publicPart) : [];
    this.keys = generateKeys();
    this.build();
    return this.state();
  }

  setAccounts(accounts) {
    for (const [login, claims] of Object.entries(accounts)) {
      this.accounts.set(login, claims);
    }
    return { accounts: [...this.accounts.keys()] };
  }

  setClients({ clients = [] }) {
    for (const client of clients) {
      this.clients.set(client.client_id, normalizeClient(client));
    }
    this.build();
    return { clients: [...this.clients.keys()], ...this.state() };
  }

  setConfig({ conformIdTokenClaims }) {
    if (typeof conformIdTokenClaims === 'boolean') {
      this.conformIdTokenClaims = conformIdTokenClaims;
    }
    this.build();
    return { conformIdTokenClaims: this.conformIdTokenClaims, ...this.state() };
  }
}

function readJsonBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_ADMIN_BODY) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(text ? JSON.parse(text) : {});
      } catch (err) {
        reject(err);
      }
    });
    req.on('error', reject);
  });
}

function sendJson(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

async function handleAdmin(op, req, res, pathname) {
  if (!LOOPBACK.has(req.socket.remoteAddress)) {
    sendJson(res, 403, { error: 'loopback only' });
    return;
  }
  const routes = {
    'GET /__test/state': () => op.state(),
    'POST /__test/rotate-keys': (body) => op.rotateKeys(body),
    'POST /__test/accounts': (body) => op.setAccounts(body),
    'POST /__test/clients': (body) => op.setClients(body),
    'POST /__test/config': (body) => op.setConfig(body),
  };
  const route = routes[`${req.method} ${pathname}`];
  if (!route) {
    sendJson(res, 404, { error: `no admin route ${req.method} ${pathname}` });
    return;
  }
  try {
    const body = req.method === 'POST' ? await readJsonBody(req) : {};
    sendJson(res, 200, route(body));
  } catch (err) {
    sendJson(res, 400, { error: String(err?.message ?? err) });
  }
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const config = JSON.parse(readFileSync(args.configPath, 'utf8'));
  let op;

  const server = http.createServer((req, res) => {
    if (!op) {
      sendJson(res, 503, { error: 'starting' });
      return;
    }
    const { pathname } = new URL(req.url, op.issuer);
    if (pathname.startsWith('/__test/')) {
      handleAdmin(op, req, res, pathname);
      return;
    }
    op.handler(req, res);
  });

  server.listen(args.port, HOST, () => {
    const { port } = server.address();
    op = new TestProvider(`http://${HOST}:${port}`, config);
    process.stdout.write(`${JSON.stringify({ ready: true, ...op.state(), port })}\n`);
  });

  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (args.exitOnStdinClose) {
    // The Python harness holds our stdin: if it dies, we do not outlive it.
    process.stdin.on('end', () => process.exit(0));
    process.stdin.on('close', () => process.exit(0));
    process.stdin.resume();
  }
}

main();
