// Entry module of JobView (bundled by routilux_jupyter/widgets/_bundle.py).
import { renderJob } from "./views.js";

export default { render: renderJob };
