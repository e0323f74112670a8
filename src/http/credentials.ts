import { createHash, createPublicKey, type KeyObject, timingSafeEqual } from "node:crypto";
import {
  createRemoteJWKSet,
  type JWTPayload,
  type JWTVerifyGetKey,
  errors as joseErrors,
  jwtVerify,
} from "jose";
import type { Config, JwtConfig } from "../config.js";
import { AppError } from "../errors.js";
import type { Principal } from "./principal.js";

export interface CredentialVerifier {
  /** Resolves the caller from its headers, or throws UNAUTHENTICATED (no detail of why). */
  verify(headers: { authorization: string | undefined; apiKey: string | undefined }): Promise<Principal>;
  disabled: boolean;
}

const CLOCK_TOLERANCE_SEC = 5;
const ASYMMETRIC_ALGS: Record<string, string[]> = {
  rsa: ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"],
  "rsa-pss": ["PS256", "PS384", "PS512"],
  ed25519: ["EdDSA", "Ed25519"],
};
const EC_ALGS: Record<string, string> = { prime256v1: "ES256", secp384r1: "ES384", secp521r1: "ES512" };
const JWKS_ALGS = [...(ASYMMETRIC_ALGS.rsa ?? []), "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];

interface JwtVerifier {
  key: Uint8Array | KeyObject | JWTVerifyGetKey;
  algorithms: string[];
  jwt: JwtConfig;
}

/** The allow-list comes from the key type: never `none`, never HS* when a public key is configured. */
function buildJwtVerifier(jwt: JwtConfig): JwtVerifier {
  if (jwt.kind === "secret") {
    return { key: new TextEncoder().encode(jwt.secret), algorithms: ["HS256", "HS384", "HS512"], jwt };
  }
  if (jwt.kind === "publicKey") {
    const key = createPublicKey(jwt.pem);
    const type = key.asymmetricKeyType ?? "";
    const algorithms =
      type === "ec"
        ? [EC_ALGS[String(key.asymmetricKeyDetails?.namedCurve)] ?? "ES256"]
        : ASYMMETRIC_ALGS[type];
    if (!algorithms) throw new Error(`JWT_PUBLIC_KEY: unsupported key type ${type}`);
    return { key, algorithms, jwt };
  }
  return { key: createRemoteJWKSet(new URL(jwt.url), { timeoutDuration: 5000 }), algorithms: JWKS_ALGS, jwt };
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value, "utf8").digest();
}

const unauthenticated = () => new AppError("UNAUTHENTICATED", "Missing or invalid credentials");

export function createCredentialVerifier(auth: Config["auth"]): CredentialVerifier {
  const jwtVerifier = auth.jwt ? buildJwtVerifier(auth.jwt) : undefined;
  // Comparing fixed-length digests keeps the compare constant-time whatever the input length.
  const apiKeyDigest = auth.apiKey ? digest(auth.apiKey.key) : undefined;

  async function verifyJwt(token: string): Promise<Principal> {
    if (!jwtVerifier) throw unauthenticated();
    let payload: JWTPayload;
    try {
      const options = {
        algorithms: jwtVerifier.algorithms,
        clockTolerance: CLOCK_TOLERANCE_SEC,
        requiredClaims: ["exp"],
        ...(jwtVerifier.jwt.issuer ? { issuer: jwtVerifier.jwt.issuer } : {}),
        ...(jwtVerifier.jwt.audience ? { audience: jwtVerifier.jwt.audience } : {}),
      };
      const key = jwtVerifier.key;
      const result =
        typeof key === "function"
          ? await jwtVerify(token, key, options)
          : await jwtVerify(token, key, options);
      payload = result.payload;
    } catch (err) {
      if (err instanceof joseErrors.JOSEError || err instanceof TypeError) throw unauthenticated();
      throw err;
    }
    if (typeof payload.sub !== "string" || payload.sub.length === 0 || payload.sub.length > 256) {
      throw unauthenticated();
    }
    const claim = payload[jwtVerifier.jwt.tenantClaim];
    const name = typeof payload.name === "string" ? payload.name : payload.sub;
    return {
      actor: { id: payload.sub, actorType: "user", name },
      // The raw value, untouched: tenancy rejects anything that is not a canonical string (a
      // stringified `123` would be indistinguishable from the string "123").
      tenantClaim: claim,
    };
  }

  return {
    disabled: auth.disabled,
    async verify({ authorization, apiKey }) {
      if (auth.disabled) {
        return {
          actor: { id: "anonymous", actorType: "system", name: "auth-disabled" },
          tenantClaim: undefined,
        };
      }
      if (authorization !== undefined) {
        const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(authorization);
        if (!match?.[1]) throw unauthenticated();
        return verifyJwt(match[1]);
      }
      if (apiKey !== undefined && apiKeyDigest && auth.apiKey) {
        if (timingSafeEqual(digest(apiKey), apiKeyDigest)) {
          return {
            actor: { id: auth.apiKey.label, actorType: "api_key", name: auth.apiKey.label },
            tenantClaim: undefined,
          };
        }
      }
      throw unauthenticated();
    },
  };
}
