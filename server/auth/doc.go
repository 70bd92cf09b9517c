// Package auth checks operators: passwords are stored as argon2id hashes
// (deliberately slow, so a stolen table is expensive to attack), and a
// short-lived in-memory cache of successful checks keeps a busy SOAP client
// from paying that cost on every request. Authorize is the single place
// that decides who may do what.
package auth
