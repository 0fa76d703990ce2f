// The "Sign out" button of signed-in pages: end the session, then show the login page.
import { api } from "/static/api.js";

for (const button of document.querySelectorAll("button[data-sign-out]")) {
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await api("/api/auth/logout", { method: "POST" });
    } finally {
      // Signed out, or the session had already ended: either way, sign in again.
      location.assign("/login");
    }
  });
}
