// A company identity provider for the integration tests: oidc-provider (pinned in
// ../node/package.json) issuing JWT access tokens for resource indicators (RFC 8707), with
// scopes, groups and a tenant claim. Two issuers in one process: IDP_PORT is the company IdP,
// ROGUE_PORT a second, untrusted one (for the wrong-issuer case).
// Accounts (any password): dana (groups eng, tenant acme), rita (tenant globex), eve (no groups).
// Static clients for client_credentials: <account>-cli / secret "<account>-secret".
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'node', 'package.json'));
const { default: Provider } = await import(require.resolve('oidc-provider'));

const ACCOUNTS = {
  dana: { groups: ['eng'], tenant: 'acme' },
  rita: { groups: ['support'], tenant: 'globex' },
  eve: { groups: [], tenant: 'acme' },
};
const ACCESS_TTL = Number(process.env.ACCESS_TTL || 300);
const SCOPES = ['openid', 'offline_access', 'tools:read', 'tools:write'];

function provider(port) {
  const issuer = `http://127.0.0.1:${port}`;
  const clients = Object.keys(ACCOUNTS).map((name) => ({
    client_id: `${name}-cli`,
    client_secret: `${name}-secret`,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'tools:read tools:write',
  }));
  const p = new Provider(issuer, {
    clients,
    scopes: SCOPES,
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      registration: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (ctx, client, oneOf) => oneOf,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (ctx, resource) => {
          if (!resource.startsWith('http://127.0.0.1:')) throw new Error('unknown resource');
          return { scope: 'tools:read tools:write', audience: resource, accessTokenTTL: ACCESS_TTL, accessTokenFormat: 'jwt' };
        },
      },
    },
    findAccount: async (ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
    extraTokenClaims: async (ctx, token) => {
      const who = token.accountId || (token.clientId || '').replace(/-cli$/, '');
      const account = ACCOUNTS[who];
      return account ? { groups: account.groups, tenant: account.tenant, ...(token.accountId ? {} : { sub: who }) } : undefined;
    },
    issueRefreshToken: async (ctx, client, code) => client.grantTypeAllowed('refresh_token'),
    ttl: { AccessToken: ACCESS_TTL, ClientCredentials: ACCESS_TTL, RefreshToken: 86400, Grant: 86400, Session: 86400, Interaction: 600 },
    pkce: { required: () => true },
    clientDefaults: { grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'none' },
  });
  p.proxy = false;
  return new Promise((resolve) => {
    const server = p.listen(port, '127.0.0.1', () => resolve(server));
  });
}

await provider(Number(process.env.IDP_PORT));
if (process.env.ROGUE_PORT) await provider(Number(process.env.ROGUE_PORT));
console.log('ready');
