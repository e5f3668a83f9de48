package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// staticKeys are the public keys loaded from PEM files.
type staticKeys struct {
	byKID map[string]crypto.PublicKey
	// byAlg holds, for each allowed asymmetric algorithm, the PEM keys that can verify it, in
	// file order: the candidates for a token without a kid.
	byAlg map[string]jwt.VerificationKeySet
}

func loadStaticKeys(paths, algorithms []string) (staticKeys, error) {
	keys := staticKeys{
		byKID: make(map[string]crypto.PublicKey, len(paths)),
		byAlg: make(map[string]jwt.VerificationKeySet),
	}
	ordered := make([]crypto.PublicKey, 0, len(paths))
	for _, path := range paths {
		key, err := loadPublicKeyFile(path)
		if err != nil {
			return staticKeys{}, err
		}
		keys.byKID[keyIDFromPath(path)] = key
		ordered = append(ordered, key)
	}
	for _, alg := range algorithms {
		method := jwt.GetSigningMethod(alg)
		if method == nil {
			continue
		}
		var set jwt.VerificationKeySet
		for _, key := range ordered {
			if keyMatchesMethod(method, key) {
				set.Keys = append(set.Keys, key)
			}
		}
		if len(set.Keys) > 0 {
			keys.byAlg[alg] = set
		}
	}
	return keys, nil
}

// loadPublicKeyFile reads the first PEM block of path and returns its public key.
func loadPublicKeyFile(path string) (crypto.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: read public key file: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("auth: public key file %q: no PEM block found", path)
	}
	var key crypto.PublicKey
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		cert, err = x509.ParseCertificate(block.Bytes)
		if err == nil {
			key = cert.PublicKey
		}
	default:
		if strings.Contains(block.Type, "PRIVATE KEY") {
			return nil, fmt.Errorf("auth: public key file %q holds a private key: configure the public key instead", path)
		}
		return nil, fmt.Errorf("auth: public key file %q: unsupported PEM block type %q", path, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: public key file %q: parse %s: %w", path, strings.ToLower(block.Type), err)
	}
	if err := checkPublicKey(key); err != nil {
		return nil, fmt.Errorf("auth: public key file %q: %w", path, err)
	}
	return key, nil
}

func checkPublicKey(key crypto.PublicKey) error {
	switch k := key.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return fmt.Errorf("RSA key has %d bits; at least %d are required", k.N.BitLen(), minRSABits)
		}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return errors.New("ECDSA key is not on P-256, P-384 or P-521")
		}
	case ed25519.PublicKey:
	default:
		return fmt.Errorf("unsupported public key type %T", key)
	}
	return nil
}

// keyMatchesMethod reports whether key has the type the signing method verifies with. HMAC
// methods match no public key: their only key is the configured secret.
func keyMatchesMethod(method jwt.SigningMethod, key crypto.PublicKey) bool {
	switch m := method.(type) {
	case *jwt.SigningMethodRSA, *jwt.SigningMethodRSAPSS:
		k, ok := key.(*rsa.PublicKey)
		return ok && k.N != nil && k.N.BitLen() >= minRSABits
	case *jwt.SigningMethodECDSA:
		k, ok := key.(*ecdsa.PublicKey)
		return ok && k.Curve != nil && k.Curve.Params().BitSize == m.CurveBits
	case *jwt.SigningMethodEd25519:
		k, ok := key.(ed25519.PublicKey)
		return ok && len(k) == ed25519.PublicKeySize
	}
	return false
}
