package secure

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
)

// A cluster key is what memberlist encrypts gossip with (AES-128, -192 or
// -256); kvnode also derives its peer token from it.

// ReadKey reads a cluster key file: one line, the key in standard base64
// (as `head -c 32 /dev/urandom | base64` writes it).
func ReadKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("gossip key: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("gossip key %s: not base64: %w", path, err)
	}
	if err := CheckKey(key); err != nil {
		return nil, fmt.Errorf("gossip key %s: %w", path, err)
	}
	return key, nil
}

// CheckKey reports whether key has an AES key length.
func CheckKey(key []byte) error {
	switch len(key) {
	case 16, 24, 32:
		return nil
	}
	return fmt.Errorf("%d bytes: want 16, 24 or 32", len(key))
}

// NewKey makes a random 32-byte key and its file contents.
func NewKey() (key []byte, file string) {
	key = make([]byte, 32)
	rand.Read(key) // never fails
	return key, base64.StdEncoding.EncodeToString(key) + "\n"
}

// PeerToken is what a node shows on peer calls over a plaintext network:
// proof that it holds the cluster key, without sending the key itself.
func PeerToken(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("kvnode peer token v1"))
	return hex.EncodeToString(m.Sum(nil))
}
