-- The identity provider's account each mapped e-mail address signs in with: its issuer (`iss`) and
-- subject (`sub`), which together name one account for good. Both stay NULL until the address's
-- first trusted sign-in, which ties them (pilots.users.actor_for_identity, an audited write); from
-- then on another account presenting the same address gets no role. Removing a user forgets them.
ALTER TABLE users ADD COLUMN signin_issuer VARCHAR;
ALTER TABLE users ADD COLUMN signin_subject VARCHAR;
