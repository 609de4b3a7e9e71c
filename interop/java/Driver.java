// Drives a JWT verifier and signer built on the JDK alone
// (javax.crypto.Mac, java.security.Signature), standing in for a Spring
// service's jjwt, which cannot be installed here, in jwt-guard's
// interoperability tests (tests/it/interop). One JSON request per line on
// stdin, one JSON answer per line on stdout:
//
//   {"op":"verify","lib":"jdk","token":…,"alg":"HS256"|"ES256"|"ES512"|"EdDSA",
//    "secret":… | "jwks":{…},"issuer":…,"audience":…}
//     -> {"ok":true,"payload":{…}} | {"ok":false,"error":"…"}
//   {"op":"mint","lib":"jdk","alg":"HS512","secret":…,"issuer":…,"audience":…,"sub":…}
//     -> {"ok":true,"token":"…"}   (jjwt's default shape: {"alg":"HS512"},
//        no typ, whole-second iat and exp, aud as an array)
//
// Every check is on, as jjwt's parser does them: signature, algorithm,
// iss, aud, exp, nbf and iat, with no clock skew allowed.
//
// Run with the JDK's source launcher: `java Driver.java`.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.security.AlgorithmParameters;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.ECParameterSpec;
import java.security.spec.ECPoint;
import java.security.spec.ECPublicKeySpec;
import java.security.spec.EdECPoint;
import java.security.spec.EdECPublicKeySpec;
import java.security.spec.NamedParameterSpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

public class Driver {
    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            String answer;
            try {
                @SuppressWarnings("unchecked")
                Map<String, Object> req = (Map<String, Object>) new Json(line).value();
                switch ((String) req.get("op")) {
                    case "versions":
                        answer = "{\"ok\":true,\"versions\":{\"jdk\":" + quote(System.getProperty("java.version")) + "}}";
                        break;
                    case "verify":
                        answer = "{\"ok\":true,\"payload\":" + verify(req) + "}";
                        break;
                    case "mint":
                        answer = "{\"ok\":true,\"token\":" + quote(mint(req)) + "}";
                        break;
                    default:
                        throw new IllegalArgumentException("unknown op " + req.get("op"));
                }
            } catch (Exception error) {
                answer = "{\"ok\":false,\"error\":" + quote(error.getClass().getSimpleName() + ": " + error.getMessage()) + "}";
            }
            System.out.println(answer);
            System.out.flush();
        }
    }

    static final Base64.Decoder B64 = Base64.getUrlDecoder();
    static final Base64.Encoder B64E = Base64.getUrlEncoder().withoutPadding();

    // ---------------------------------------------------------------- verify

    @SuppressWarnings("unchecked")
    static String verify(Map<String, Object> req) throws Exception {
        String token = (String) req.get("token");
        String alg = (String) req.get("alg");
        String[] parts = token.split("\\.", -1);
        if (parts.length != 3) throw new SecurityException("not a compact JWS");
        Map<String, Object> header = (Map<String, Object>) new Json(utf8(B64.decode(parts[0]))).value();
        if (!alg.equals(header.get("alg"))) throw new SecurityException("unexpected alg " + header.get("alg"));
        byte[] input = (parts[0] + "." + parts[1]).getBytes(StandardCharsets.US_ASCII);
        byte[] signature = B64.decode(parts[2]);
        boolean valid;
        if (alg.startsWith("HS")) {
            String macAlg = "Hmac" + "SHA" + alg.substring(2);
            Mac mac = Mac.getInstance(macAlg);
            mac.init(new SecretKeySpec(((String) req.get("secret")).getBytes(StandardCharsets.UTF_8), macAlg));
            valid = MessageDigest.isEqual(mac.doFinal(input), signature);
        } else {
            Map<String, Object> jwk = jwkFor((Map<String, Object>) req.get("jwks"), (String) header.get("kid"));
            Signature verifier;
            PublicKey key;
            if (alg.equals("ES256")) {
                verifier = Signature.getInstance("SHA256withECDSAinP1363Format");
                key = ecKey(jwk, "P-256", "secp256r1");
            } else if (alg.equals("ES512")) {
                verifier = Signature.getInstance("SHA512withECDSAinP1363Format");
                key = ecKey(jwk, "P-521", "secp521r1");
            } else if (alg.equals("EdDSA")) {
                verifier = Signature.getInstance("Ed25519");
                key = edKey(jwk);
            } else {
                throw new SecurityException("unsupported alg " + alg);
            }
            verifier.initVerify(key);
            verifier.update(input);
            valid = verifier.verify(signature);
        }
        if (!valid) throw new SecurityException("signature does not verify");
        String payloadText = utf8(B64.decode(parts[1]));
        Map<String, Object> claims = (Map<String, Object>) new Json(payloadText).value();
        checkClaims(claims, (String) req.get("issuer"), (String) req.get("audience"));
        return payloadText;
    }

    static void checkClaims(Map<String, Object> claims, String issuer, String audience) {
        double now = System.currentTimeMillis() / 1000.0;
        if (!issuer.equals(claims.get("iss"))) throw new SecurityException("iss is not " + issuer);
        Object aud = claims.get("aud");
        boolean audOk = aud instanceof String ? aud.equals(audience)
            : aud instanceof List && ((List<?>) aud).contains(audience);
        if (!audOk) throw new SecurityException("aud does not contain " + audience);
        Object exp = claims.get("exp");
        if (!(exp instanceof Double)) throw new SecurityException("no numeric exp");
        if (now >= (Double) exp) throw new SecurityException("expired");
        Object nbf = claims.get("nbf");
        if (nbf != null && (!(nbf instanceof Double) || now < (Double) nbf)) throw new SecurityException("not yet valid (nbf)");
        Object iat = claims.get("iat");
        if (iat != null && (!(iat instanceof Double) || now < (Double) iat)) throw new SecurityException("issued in the future (iat)");
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> jwkFor(Map<String, Object> jwks, String kid) {
        for (Object key : (List<Object>) jwks.get("keys")) {
            Map<String, Object> jwk = (Map<String, Object>) key;
            if (kid == null || kid.equals(jwk.get("kid"))) return jwk;
        }
        throw new SecurityException("no key with kid " + kid);
    }

    static PublicKey ecKey(Map<String, Object> jwk, String crv, String curve) throws Exception {
        if (!crv.equals(jwk.get("crv"))) throw new SecurityException("not a " + crv + " key");
        AlgorithmParameters parameters = AlgorithmParameters.getInstance("EC");
        parameters.init(new ECGenParameterSpec(curve));
        ECParameterSpec spec = parameters.getParameterSpec(ECParameterSpec.class);
        ECPoint point = new ECPoint(
            new BigInteger(1, B64.decode((String) jwk.get("x"))),
            new BigInteger(1, B64.decode((String) jwk.get("y"))));
        return KeyFactory.getInstance("EC").generatePublic(new ECPublicKeySpec(point, spec));
    }

    static PublicKey edKey(Map<String, Object> jwk) throws Exception {
        if (!"Ed25519".equals(jwk.get("crv"))) throw new SecurityException("not an Ed25519 key");
        // RFC 8032: the key is y, little-endian, with x's parity in the top bit.
        byte[] raw = B64.decode((String) jwk.get("x"));
        boolean xOdd = (raw[raw.length - 1] & 0x80) != 0;
        raw[raw.length - 1] &= 0x7f;
        byte[] bigEndian = new byte[raw.length];
        for (int i = 0; i < raw.length; i++) bigEndian[i] = raw[raw.length - 1 - i];
        EdECPoint point = new EdECPoint(xOdd, new BigInteger(1, bigEndian));
        return KeyFactory.getInstance("Ed25519").generatePublic(new EdECPublicKeySpec(NamedParameterSpec.ED25519, point));
    }

    // ------------------------------------------------------------------ mint

    static String mint(Map<String, Object> req) throws Exception {
        String alg = (String) req.get("alg");
        if (!alg.startsWith("HS")) throw new IllegalArgumentException("mint signs HMAC only");
        long now = System.currentTimeMillis() / 1000;
        String header = "{\"alg\":" + quote(alg) + "}";
        String payload = "{\"sub\":" + quote((String) req.get("sub"))
            + ",\"iss\":" + quote((String) req.get("issuer"))
            + ",\"aud\":[" + quote((String) req.get("audience")) + "]"
            + ",\"iat\":" + now + ",\"exp\":" + (now + 3600) + "}";
        String input = B64E.encodeToString(header.getBytes(StandardCharsets.UTF_8)) + "."
            + B64E.encodeToString(payload.getBytes(StandardCharsets.UTF_8));
        String macAlg = "Hmac" + "SHA" + alg.substring(2);
        Mac mac = Mac.getInstance(macAlg);
        mac.init(new SecretKeySpec(((String) req.get("secret")).getBytes(StandardCharsets.UTF_8), macAlg));
        return input + "." + B64E.encodeToString(mac.doFinal(input.getBytes(StandardCharsets.US_ASCII)));
    }

    // ------------------------------------------------------------------ JSON

    static String utf8(byte[] bytes) {
        return new String(bytes, StandardCharsets.UTF_8);
    }

    static String quote(String text) {
        StringBuilder out = new StringBuilder("\"");
        for (char c : text.toCharArray()) {
            if (c == '"' || c == '\\') out.append('\\').append(c);
            else if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
            else out.append(c);
        }
        return out.append('"').toString();
    }

    /** A small strict JSON reader: objects, arrays, strings, numbers (as Double), booleans, null. */
    static final class Json {
        private final String text;
        private int at;

        Json(String text) {
            this.text = text;
        }

        Object value() {
            Object value = read();
            space();
            if (at != text.length()) throw new IllegalArgumentException("trailing characters in JSON");
            return value;
        }

        private void space() {
            while (at < text.length() && " \t\r\n".indexOf(text.charAt(at)) >= 0) at++;
        }

        private Object read() {
            space();
            if (at >= text.length()) throw new IllegalArgumentException("unexpected end of JSON");
            char c = text.charAt(at);
            if (c == '{') {
                at++;
                Map<String, Object> map = new LinkedHashMap<>();
                space();
                if (text.charAt(at) == '}') { at++; return map; }
                while (true) {
                    space();
                    String name = string();
                    space();
                    expect(':');
                    if (map.containsKey(name)) throw new IllegalArgumentException("duplicate member " + name);
                    map.put(name, read());
                    space();
                    if (text.charAt(at) == ',') { at++; continue; }
                    expect('}');
                    return map;
                }
            }
            if (c == '[') {
                at++;
                List<Object> list = new ArrayList<>();
                space();
                if (text.charAt(at) == ']') { at++; return list; }
                while (true) {
                    list.add(read());
                    space();
                    if (text.charAt(at) == ',') { at++; continue; }
                    expect(']');
                    return list;
                }
            }
            if (c == '"') return string();
            if (text.startsWith("true", at)) { at += 4; return Boolean.TRUE; }
            if (text.startsWith("false", at)) { at += 5; return Boolean.FALSE; }
            if (text.startsWith("null", at)) { at += 4; return null; }
            int start = at;
            while (at < text.length() && "+-0123456789.eE".indexOf(text.charAt(at)) >= 0) at++;
            if (start == at) throw new IllegalArgumentException("unexpected character in JSON");
            return Double.valueOf(text.substring(start, at));
        }

        private void expect(char c) {
            if (at >= text.length() || text.charAt(at) != c) throw new IllegalArgumentException("expected " + c + " in JSON");
            at++;
        }

        private String string() {
            expect('"');
            StringBuilder out = new StringBuilder();
            while (true) {
                char c = text.charAt(at++);
                if (c == '"') return out.toString();
                if (c != '\\') { out.append(c); continue; }
                char e = text.charAt(at++);
                switch (e) {
                    case 'n': out.append('\n'); break;
                    case 't': out.append('\t'); break;
                    case 'r': out.append('\r'); break;
                    case 'b': out.append('\b'); break;
                    case 'f': out.append('\f'); break;
                    case 'u': out.append((char) Integer.parseInt(text.substring(at, at + 4), 16)); at += 4; break;
                    default: out.append(e);
                }
            }
        }
    }
}
