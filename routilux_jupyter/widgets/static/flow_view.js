// Entry module of FlowView (bundled by routilux_jupyter/widgets/_bundle.py).
import { renderFlow } from "./views.js";

export default { render: renderFlow };
