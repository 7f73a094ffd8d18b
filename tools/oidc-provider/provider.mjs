// A real OpenID Connect provider for the sign-in tests: panva's oidc-provider on 127.0.0.1.
// Usage: node provider.mjs CONFIG.json [PORT]   (or OIDC_PROVIDER_CONFIG / OIDC_PROVIDER_PORT)
// PORT 0 (the default) picks a free port. When it listens, prints one JSON line on stdout,
// {"issuer": "http://127.0.0.1:PORT", "port": PORT}, and runs until killed.
//
// CONFIG holds
//   jwks      the provider's private signing keys, a JWK set (the first RS256 key signs ID tokens)
//   clients   oidc-provider client metadata, e.g. a public client with token_endpoint_auth_method none
//   accounts  account id -> claims (sub, email, email_verified, name, groups)
//   ttl       optional, seconds per token kind (AccessToken, IdToken, AuthorizationCode, ...)
//
// Sign-in is oidc-provider's development login form: the login name is the account id (any
// password); a name that is no account ends the sign-in with error=access_denied at the
// redirect_uri. Consent is never asked: the requested scopes and claims are granted at once.
// RP-initiated logout confirms itself (its page submits its own form).
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import Provider from "oidc-provider";

const [configPath = process.env.OIDC_PROVIDER_CONFIG, portArg = process.env.OIDC_PROVIDER_PORT] =
  process.argv.slice(2);
if (!configPath) {
  console.error("usage: node provider.mjs CONFIG.json [PORT]");
  process.exit(2);
}
const config = JSON.parse(readFileSync(configPath, "utf8"));
const accounts = config.accounts ?? {};

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);
const isLoopback = (origin) => {
  const url = URL.parse(origin);
  return url !== null && url.protocol === "http:" && LOOPBACK.has(url.hostname);
};

const html = (title, body) => `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>
<body><main><h1>${title}</h1>${body}</main></body></html>`;

const server = createServer();
server.listen(Number(portArg ?? 0), "127.0.0.1", () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    jwks: config.jwks,
    clients: config.clients ?? [],
    cookies: { keys: ["oidc-provider test harness cookie key"] },
    claims: {
      openid: ["sub"],
      email: ["email", "email_verified"],
      profile: ["name"],
      groups: ["groups"],
    },
    // The ID token carries the scopes' claims itself; the page needs no userinfo call.
    conformIdTokenClaims: false,
    async findAccount(ctx, id) {
      if (!Object.hasOwn(accounts, id)) return undefined;
      return {
        accountId: id,
        async claims() {
          return { sub: id, ...accounts[id] };
        },
      };
    },
    // First-party clients only: grant what is asked, so no consent page ever shows.
    async loadExistingGrant(ctx) {
      const { client, session, params, account } = ctx.oidc;
      const { Grant } = ctx.oidc.provider;
      const grantId = ctx.oidc.result?.consent?.grantId || session.grantIdFor(client.clientId);
      let grant = grantId ? await Grant.find(grantId) : undefined;
      if (grant?.accountId !== account.accountId) {
        grant = new Grant({ clientId: client.clientId, accountId: account.accountId });
      }
      grant.addOIDCScope(String(params.scope ?? "openid"));
      grant.addOIDCClaims([...ctx.oidc.requestParamClaims]);
      await grant.save();
      return grant;
    },
    clientBasedCORS(ctx, origin) {
      return isLoopback(origin);
    },
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      IdToken: 600,
      RefreshToken: 3600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
      ...config.ttl,
    },
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          const confirmed = form.replace(
            "</form>",
            '<input type="hidden" name="logout" value="yes"/></form>',
          );
          ctx.body = html(
            "Signing out",
            `${confirmed}<button type="submit" form="op.logoutForm">Sign out</button>
<script>document.getElementById("op.logoutForm").submit();</script>`,
          );
        },
        async postLogoutSuccessSource(ctx) {
          ctx.body = html("Signed out", "<p>You are signed out.</p>");
        },
      },
    },
  });
  provider.on("server_error", (ctx, error) => console.error("server_error", error));
  // A login name that is no account ends the sign-in with access_denied at the page, as a
  // provider refusing the user would (the development form itself accepts any name).
  provider.use(async (ctx, next) => {
    if (
      ctx.method === "POST" &&
      /^\/interaction\/[^/]+$/.test(ctx.path) &&
      ctx.is("application/x-www-form-urlencoded")
    ) {
      const chunks = [];
      for await (const chunk of ctx.req) chunks.push(chunk);
      const raw = Buffer.concat(chunks).toString("utf8");
      const form = new URLSearchParams(raw);
      if (form.get("prompt") === "login" && !Object.hasOwn(accounts, form.get("login") ?? "")) {
        const result = {
          error: "access_denied",
          error_description: `no account ${form.get("login")}`,
        };
        ctx.status = 303;
        ctx.redirect(await provider.interactionResult(ctx.req, ctx.res, result));
        return;
      }
      ctx.req.body = raw; // read already: oidc-provider's own parser takes it from here
    }
    await next();
  });
  server.on("request", provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer, port })}\n`);
});

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => server.close(() => process.exit(0)) && server.closeAllConnections());
}
