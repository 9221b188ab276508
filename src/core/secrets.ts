/**
 * The shortest admin password `ayb start` takes (AYB_ADMIN_PASSWORD or [admin] password). A shorter
 * one is refused: it is guessable, and a password that is an everyday word ("admin") would be masked
 * wherever that word appears in what ayb prints.
 */
export const MIN_ADMIN_PASSWORD_LENGTH = 8;
