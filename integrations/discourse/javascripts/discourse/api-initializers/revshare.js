// Loads the revshare-oracle snippet once. The snippet keeps one <link rel="monetization"> in the
// page's head for the topic in view, following Discourse's client-side navigation by itself;
// onPageChange asks it to look again after every route change as well.
import { apiInitializer } from "discourse/lib/api";

const LOADER_MARK = "data-revshare-theme-component";

export default apiInitializer("1.8.0", (api) => {
  const service = (settings.service_url || "").trim().replace(/\/+$/, "");
  const community = (settings.community || "").trim();
  if (!service || !community) {
    // eslint-disable-next-line no-console
    console.warn("revshare: set the component's service_url and community settings");
    return;
  }

  if (!document.querySelector(`script[${LOADER_MARK}]`)) {
    const script = document.createElement("script");
    script.src = `${service}/revshare.js`;
    script.async = true;
    script.dataset.community = community;
    script.setAttribute(LOADER_MARK, "");
    document.head.appendChild(script);
  }

  api.onPageChange(() => {
    window.revshare?.refresh();
  });
});
