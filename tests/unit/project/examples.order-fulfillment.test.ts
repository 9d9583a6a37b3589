import { MemoryStore } from "../../../mod.ts";
import { orderFulfillmentSuite } from "../../support/order-fulfillment.ts";

orderFulfillmentSuite("MemoryStore", () => new MemoryStore());
